-- eval: , 
return {1, {2, {3, {4, 'deep'}}}, {}, {'x'}}
