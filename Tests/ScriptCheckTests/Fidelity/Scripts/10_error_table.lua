return {err='custom failure'}
