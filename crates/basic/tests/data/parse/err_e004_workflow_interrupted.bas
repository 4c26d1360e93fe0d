SUB run_it()
  ORCHESTRATE WORKFLOW "inner"
    STEP 1: BOT "classifier" "x"
END SUB
TALK "after the sub"
