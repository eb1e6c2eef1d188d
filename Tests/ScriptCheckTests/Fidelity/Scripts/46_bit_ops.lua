-- LuaBitOp: 32-bit operations on negatives and values beyond 32 bits.
return {
  bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.tobit(-1), bit.tobit(2^53),
  bit.band(0x12345678, 0xff00ff00), bit.bor(1, 2, 4, 8), bit.bxor(-1, 0x0f0f0f0f),
  bit.bnot(0), bit.bnot(-1),
  bit.lshift(1, 32), bit.lshift(1, 33), bit.rshift(-1, 28), bit.arshift(-256, 4),
  bit.rol(0x80000001, 1), bit.ror(1, 1), bit.bswap(0x01020304),
  bit.tohex(255), bit.tohex(-1, 4), bit.tohex(0x1234, -8), bit.tohex(2^40 + 7),
  bit.band(2^31, 2^31), bit.bor(-2^31, 0), bit.band(1.9, 3), bit.band(-1.5, -1),
  tostring(pcall(bit.band, 'x', 1)),
}
