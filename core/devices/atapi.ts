/*
 * The ATAPI CD-ROM drive QEMU's pc puts on the secondary IDE channel's master position by default,
 * with no disc in it (hw/ide/core.c, hw/ide/atapi.c): what it answers, apart from the channel's
 * protocol (ata.ts). IDENTIFY PACKET DEVICE's words, and the packet commands a driver sends when it
 * probes the drive: INQUIRY and REQUEST SENSE answer; TEST UNIT READY and the commands that need a
 * disc (READ CAPACITY, READ(10), READ TOC, …) end in CHECK CONDITION with NOT READY / MEDIUM NOT
 * PRESENT, which REQUEST SENSE then reports. Nothing can be inserted: Popek has no disc images.
 */

/** SCSI sense keys and additional sense codes used here. */
const NOT_READY = 0x02, ILLEGAL_REQUEST = 0x05;
const ASC_MEDIUM_NOT_PRESENT = 0x3a, ASC_INVALID_OPCODE = 0x20;

/** What a packet command does: data for the host, or a CHECK CONDITION with its sense. */
export type PacketResult = { data: Uint8Array } | { sense: { key: number; asc: number } } | { done: true };

/** IDENTIFY PACKET DEVICE as QEMU 7.2 answers it for its CD-ROM (`QM0000n` is the drive's number on the machine, 3 for ide1-cd0). */
export function identifyPacketDevice(serial: string): Uint8Array {
  const w = new Uint16Array(256);
  const str = (first: number, words: number, s: string) => {
    const t = s.padEnd(words * 2, ' ');
    for (let k = 0; k < words; k++) w[first + k] = (t.charCodeAt(2 * k) << 8) | t.charCodeAt(2 * k + 1);
  };
  w[0] = 0x85c0;                          // ATAPI, CD-ROM, removable, 50 µs DRQ, 12-byte packets
  str(10, 10, serial);
  w[20] = 3; w[21] = 512; w[22] = 4;      // buffer type and size, ECC bytes (retired, as QEMU fills them)
  str(23, 4, '2.5+');
  str(27, 20, 'QEMU DVD-ROM');
  w[48] = 1;                              // dword I/O
  w[49] = 0x0300;                         // LBA, DMA
  w[53] = 7;                              // words 54–58, 64–70 and 88 are valid
  w[62] = 7; w[63] = 7;                   // single- and multi-word DMA modes 0–2
  w[64] = 3;                              // PIO modes 3 and 4
  w[65] = 0xb4; w[66] = 0xb4; w[67] = 0x12c; w[68] = 0xb4; // cycle times (ns)
  w[71] = 30; w[72] = 30;                 // PACKET / SERVICE release times
  w[80] = 0x1e;                           // ATA/ATAPI-1 to -4
  w[88] = 0x203f;                         // UDMA modes 0–5, mode 5 selected
  return new Uint8Array(w.buffer);
}

/** The drive's sense state (REQUEST SENSE reports it). */
export interface AtapiSense { key: number; asc: number }

/**
 * Executes a 12-byte CDB on the empty drive. `sense` is the drive's current sense (changed when a
 * command fails); the result is what the channel does next.
 */
export function executePacket(cdb: Uint8Array, sense: AtapiSense): PacketResult {
  const fail = (key: number, asc: number): PacketResult => { sense.key = key; sense.asc = asc; return { sense: { key, asc } }; };
  switch (cdb[0]) {
    case 0x03: {                          // REQUEST SENSE: fixed format, 18 bytes
      const d = new Uint8Array(18);
      d[0] = 0xf0; d[2] = sense.key; d[7] = 10; d[12] = sense.asc;
      return { data: d.subarray(0, Math.min(18, cdb[4])) };
    }
    case 0x12: {                          // INQUIRY: standard data, 36 bytes
      const d = new Uint8Array(36);
      d[0] = 0x05; d[1] = 0x80;           // CD/DVD device, removable
      d[3] = 0x21; d[4] = 31;             // ATAPI, response data format 1; additional length
      d.set(Buffer.from('QEMU    QEMU DVD-ROM    2.5+', 'latin1'), 8);
      return { data: d.subarray(0, Math.min(36, cdb[4])) };
    }
    case 0x1e:                            // PREVENT ALLOW MEDIUM REMOVAL: accepted without a disc
      return { done: true };
    // Commands QEMU checks a disc for: TEST UNIT READY, READ CAPACITY, READ(10), READ(12), READ TOC,
    // SEEK, READ DISC INFORMATION, READ CD, READ CD MSF.
    case 0x00: case 0x25: case 0x28: case 0xa8: case 0x43: case 0x2b: case 0x51: case 0xbe: case 0xb9:
      return fail(NOT_READY, ASC_MEDIUM_NOT_PRESENT);
    // QEMU answers more of MMC without a disc (MODE SENSE, GET CONFIGURATION, GET EVENT STATUS
    // NOTIFICATION, START STOP UNIT, …); Popek does not model them: ILLEGAL REQUEST, INVALID OPCODE.
    default:
      return fail(ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
  }
}
