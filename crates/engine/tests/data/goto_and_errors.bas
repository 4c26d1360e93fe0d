' GOTO and labels, ON ERROR GOTO / RESUME NEXT, the ERROR variable, and an
' uncaught error at the end.
' bot flaky "work" -> error bot: the bot is down
tries = 0
again:
tries = tries + 1
IF tries < 3 THEN GOTO again

ON ERROR RESUME NEXT
bad = 1 / 0
TALK "resumed after: " & ERROR.message
FIND "customers", "x = 1"
TALK "generic: " & error.message & " (" & error.kind & ")"

ON ERROR GOTO handler
STEP 5: BOT "flaky" "work"
TALK "not reached"
handler:
TALK "caught " & ERROR.kind & " at step " & ERROR.step & ": " & ERROR.message
ON ERROR GOTO 0
y = missing_function(1)
TALK "not reached either"
