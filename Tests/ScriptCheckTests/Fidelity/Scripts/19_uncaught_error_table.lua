error({err='TABLECODE from a table'})
