return {pcall(function() error({err='tbl'}) end)}
