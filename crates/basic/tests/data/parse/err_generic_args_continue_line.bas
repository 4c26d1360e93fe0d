' Found by fuzzing: a generic keyword's raw arguments that end with an
' operator go on on the next line, like an expression would, so the WHILE
' below is never closed. Before, formatting changed what this meant.
WHILE m < 3
  m = m 1+
END WHILE
