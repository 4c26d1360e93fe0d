' Found by fuzzing: STEP, BRANCH and LET need their own forms; a line that
' does not match them is an error, not an unknown keyword statement.
STEP ! wi
BRANCH ! x
LET ! y
LET "z" = 1
