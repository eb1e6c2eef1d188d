-- eval: key:a key:b , one two three
return {KEYS[1], KEYS[2], ARGV[1], ARGV[3], #KEYS, #ARGV}
