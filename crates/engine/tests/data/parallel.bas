' PARALLEL: each branch starts with a copy; changed variables merge in
' label order; two requests are open at once.
' input: {"shared": 0}
' bot a "one" -> {"from_a": 1, "both": "a"}
' bot b "two" -> {"from_b": 2, "both": "b"}
' bot c "three" -> {"inside": true}
STEP 4: PARALLEL
  BRANCH B:
    BOT "b" "two"
    shared = shared + 20
  END BRANCH
  BRANCH A:
    BOT "a" "one"
    shared = shared + 1
    TALK "A sees from_b = " & (from_b ?? "nothing")
    STEP 9: BOT "c" "three"
  END BRANCH
END PARALLEL
TALK "joined: both = " & both & ", shared = " & shared
FOR EACH round IN [1, 2]
  STEP 5: PARALLEL
    BRANCH A: BOT "a" "one"
    BRANCH B: BOT "b" "two"
  END PARALLEL
NEXT
