attempts = 0
retry:
attempts = attempts + 1
IF attempts < 3 THEN GOTO retry
GOTO finish
TALK "never said"
finish:
TALK "done after " & attempts & " attempts"
