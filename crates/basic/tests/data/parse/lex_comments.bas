' A quote comment
REM a REM comment
// a slashes comment
# a hash comment at the start of a line
  # indented hash comment
x = 1 ' trailing quote
y = 2 // trailing slashes
z = 3 REM trailing REM
REMEMBER "k", "v" ' REMEMBER is a keyword, not a comment
rem lower-case rem
Rem mixed-case Rem
REMARK = 5
remembered = RECALL "k"
IF x THEN ' comment on the opener
  TALK "x" REM comment inside
END IF // comment on the closer
