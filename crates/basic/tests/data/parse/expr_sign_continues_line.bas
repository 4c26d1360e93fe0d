' Found by fuzzing: a sign at the end of a line continues it, in an
' expression as in a generic keyword's arguments.
x = 1 - -
  2
SHOUT 3 - -
  4
