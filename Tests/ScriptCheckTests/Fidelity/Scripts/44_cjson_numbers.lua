-- Number formatting: cjson's 14 significant digits, integers, exponents, and
-- what decode makes of numbers (a Lua number, converted to an integer reply).
return {
  cjson.encode({0.1, 1/3, 100, -0.0, 1e15, 123456789012345678, 2^53, 1.5e-7, -12.25}),
  cjson.encode(3.14159265358979),
  cjson.decode('12.7'),
  cjson.decode('-3'),
  cjson.decode('1e2'),
  tostring(cjson.decode('0.1')),
  cjson.encode(cjson.decode('[1.0, 2.50, -1e-400]')),
  tostring(pcall(cjson.encode, cjson.decode('1E400'))),
  tostring(pcall(cjson.encode, 1/0)),
  tostring(pcall(cjson.encode, 0/0)),
  tostring(cjson.decode('NaN') ~= cjson.decode('NaN')),
  tostring(cjson.decode('0x10')),
  tostring(cjson.decode('Infinity')),
}
