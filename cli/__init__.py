"""Click commands: parse, call one library function, render the result. Nothing imports cli."""
