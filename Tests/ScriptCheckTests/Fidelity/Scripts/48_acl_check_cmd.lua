-- eval: k , 
return {redis.acl_check_cmd('GET', KEYS[1]), redis.acl_check_cmd('zadd'), redis.acl_check_cmd('CONFIG'),
        redis.acl_check_cmd('config', 'GET', 'x'), redis.acl_check_cmd('PUBLISH', 'c', 'm'), redis.acl_check_cmd('get', 1.5),
        redis.acl_check_cmd('MULTI'), redis.acl_check_cmd('get', 'a', 'b', 'c'), type(redis.acl_check_cmd),
        pcall(redis.acl_check_cmd, 'nosuch')}
