-- cjson round trips: nested tables, strings with escapes, arrays and objects.
local doc = '{"name":"lock","tags":["a","b\\n\\"c\\""],"deep":{"x":{"y":[1,[2,[3]]]}},"empty":{},"list":[],"t":true,"f":false,"n":null}'
local value = cjson.decode(doc)
return {
  cjson.encode(value.tags),
  cjson.encode(value.deep),
  cjson.encode(value.empty),
  cjson.encode(value.list),
  tostring(value.t), tostring(value.f), tostring(value.n == cjson.null),
  cjson.encode(cjson.decode(cjson.encode({"\1\127\255", "/", "\\"}))),
  cjson.encode({[1] = 'a', [2] = 'b', [4] = 'd'}),
  cjson.encode({[1] = 'a', [3] = 'c'}),
  cjson.encode(cjson.decode('"\\u00e9\\ud83d\\ude00"')),
  #cjson.decode('[1,2,3,4,5]'),
}
