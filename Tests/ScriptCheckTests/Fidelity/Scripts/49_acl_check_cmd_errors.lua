local allowed = redis.acl_check_cmd('GET', 'x')
return redis.acl_check_cmd('config', 'nosuch')
