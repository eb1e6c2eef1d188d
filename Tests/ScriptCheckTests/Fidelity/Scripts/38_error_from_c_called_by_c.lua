table.foreach({'x'}, error)
