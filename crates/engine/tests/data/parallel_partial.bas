' WAIT ANY continues after the first success and cancels the rest; WAIT n;
' a failing branch fails the step with every branch's error.
' bot fast "go" -> {"fast": true}
' bot slow "go" -> {"slow": true}
' bot bad "go" -> error bot: bad is broken
' bot worse "go" -> error timeout: worse timed out
' bot never "go" -> hold
STEP 1: PARALLEL
  BRANCH A: BOT "fast" "go"
  BRANCH B:
    DELAY 60
    BOT "slow" "go"
  END BRANCH
END PARALLEL WAIT ANY
TALK "after any: slow = " & (slow ?? "null")
STEP 1.5: PARALLEL
  BRANCH A: BOT "never" "go"
  BRANCH B: BOT "fast" "go" INTO quick
END PARALLEL WAIT 1
TALK "the open request of branch A was withdrawn"
STEP 2: PARALLEL
  BRANCH A: BOT "bad" "go"
  BRANCH B: BOT "fast" "go"
  BRANCH C: BOT "slow" "go"
END PARALLEL WAIT 2
TALK "after two of three"
ON ERROR GOTO failed
STEP 3: PARALLEL
  BRANCH A: BOT "bad" "go"
  BRANCH B: BOT "fast" "go"
  BRANCH C: BOT "worse" "go"
END PARALLEL
failed:
TALK ERROR.message
RETURN ERROR
