return {'a\0b', 'tab\there', 'quote"', '\255', 'new\nline'}
