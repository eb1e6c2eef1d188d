-- eval: , 

counter = 1
return counter
