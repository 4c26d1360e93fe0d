' Step paths: repeated steps get #n, nested loops count every execution,
' bare BOT calls count under their context.
' input: {"items": ["a", "b"]}
' bot worker "do" -> {"done": true}
' bot counter "count" -> 1
' bot counter "count" -> 2
ORCHESTRATE WORKFLOW "loops"
  FOR EACH item IN items
    STEP 3: BOT "worker" "do" WITH {"item": item}
    FOR n = 1 TO 2
      STEP 4: BOT "worker" "do" WITH {"item": item, "n": n} INTO last
    NEXT
  NEXT
  STEP 5: BOT "counter" "count"
  STEP 5: BOT "counter" "count" INTO second
  BOT "worker" "do"
  x = BOT "worker" "do"
END WORKFLOW
