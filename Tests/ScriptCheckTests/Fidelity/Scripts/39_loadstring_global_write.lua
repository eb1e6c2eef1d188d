local f = loadstring('leaked = 1')
f()
return leaked
