' Found by fuzzing: a lone _ at the start of a line is a name, not a line join.
_;;_
