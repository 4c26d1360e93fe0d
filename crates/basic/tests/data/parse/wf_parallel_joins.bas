ORCHESTRATE WORKFLOW "joins"
  STEP 1: PARALLEL
    BRANCH A: BOT "refund-processor" "quote"
    BRANCH B: BOT "inventory-updater" "quote"
  END PARALLEL WAIT ANY
  STEP 2: PARALLEL
    BRANCH A: BOT "refund-processor" "x"
    BRANCH B: BOT "inventory-updater" "x"
    BRANCH C: BOT "classifier" "x"
  END PARALLEL WAIT 2
  STEP 3: PARALLEL
    BRANCH 1: BOT "classifier" "one"
    BRANCH 2: BOT "classifier" "two"
  end parallel wait any ' lower case
END WORKFLOW
