ORCHESTRATE WORKFLOW "fan-out"
STEP 1: PARALLEL ' all at once
  ' first the quick ones
  BRANCH A: BOT "a" "do a"
  BRANCH B: BOT "b" "do b" INTO b_result
  BRANCH C:   ' a block
    BOT "c" "do c"
    TALK "c done"
  END BRANCH
  BRANCH D:
    BOT "d" "do d" WITH {"x": 1} TIMEOUT 30 RETRY 3 CACHE 600

  ' nothing after
END PARALLEL ' joined
STEP 2: PARALLEL
  BRANCH A: BOT "a" "again"
  BRANCH B: BOT "b" "again"
END PARALLEL WAIT ANY
STEP 3: PARALLEL
  BRANCH A: BOT "a" "x"
  BRANCH B: BOT "b" "x"
  BRANCH C: BOT "c" "x"
END PARALLEL WAIT 2
END WORKFLOW
