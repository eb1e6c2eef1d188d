-- eval: , 
return {true, false, 1, nil, 2}
