' Found by fuzzing: a lone _ is the line-join mark, not a name. At the
' end of a line it joins lines; anywhere else it is an error.
_;;_
O = E ^ E ^ _  _
x = 1 + _
  2
