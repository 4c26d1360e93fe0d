' Branches start from a copy of the variables; the join merges what each
' branch wrote, in label order. WAIT ANY / WAIT n continue after the first
' successes and drop the cancelled branches' changes.
ORCHESTRATE WORKFLOW "parallel"
  shared = "before"
  STEP 1: PARALLEL
    BRANCH A: BOT "worker" "work" WITH {"who": "A"}
    BRANCH B:
      BOT "worker" "work" WITH {"who": "B"} INTO b_answer
      shared = "from B"
    END BRANCH
  END PARALLEL
  STEP 2: PARALLEL
    BRANCH A: BOT "worker" "work" WITH {"who": "A2"} INTO any_a
    BRANCH B: BOT "worker" "work" WITH {"who": "B2"} INTO any_b
    BRANCH C:
      ' Slower than the others, so the join never waits for it.
      DELAY 0.5
      BOT "worker" "work" WITH {"who": "C2"} INTO any_c
    END BRANCH
  END PARALLEL WAIT 2
  TALK "shared is " & shared & ", last worker " & who
END WORKFLOW
