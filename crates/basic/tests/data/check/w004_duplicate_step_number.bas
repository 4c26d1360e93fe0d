ORCHESTRATE WORKFLOW "w"
  STEP 1: BOT "classifier" "analyze complaint"
  STEP 1: BOT "order-checker" "validate order"
  STEP 3a: TALK "a"
  STEP 3A: TALK "b"
  IF order_amount > 100 THEN
    STEP 2: TALK "big"
  ELSE
    STEP 2: TALK "small"
  END IF
  STEP 2: TALK "the IF branches are other blocks"
  STEP 1: TALK "third"
END WORKFLOW
