' Every execution of a step inside a loop gets its own path: 2#1, 2#2, ...
ORCHESTRATE WORKFLOW "loops"
  STEP 1: BOT "count" "tick" WITH {"n": 0}
  FOR i = 1 TO rounds
    FOR EACH item IN ["a", "b"]
      STEP 2: BOT "count" "tick" WITH {"n": i, "item": item} INTO last
      total = (total ?? 0) + last.n
    NEXT item
  NEXT i
  k = 0
  DO WHILE k < 2
    k = k + 1
    STEP 3: BOT "count" "tick" WITH {"n": k * 10} INTO last
  LOOP
END WORKFLOW
