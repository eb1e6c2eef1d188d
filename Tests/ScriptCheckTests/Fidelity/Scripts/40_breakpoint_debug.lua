return {redis.breakpoint(), redis.debug('ignored'), 'after'}
