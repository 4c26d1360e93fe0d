ORCHESTRATE WORKFLOW "w"
  urgent = TRUE
  STEP 1: IF urgent THEN BOT "classifier" "page on-call"
  STEP 2: FOR EACH x IN [1, 2]
    TALK x
  NEXT
  STEP 3: TALK "talking is a fine step"
  STEP 4: total = 1 + 2
  STEP 5: e = WAIT FOR EVENT "paid" TIMEOUT 60
  STEP 6: CALL "other.bas"
  STEP 7: SEND MAIL "a@b.c", "subject", "body"
  STEP 8: POST "https://example.com/hook", {"total": total}
  STEP 9: WAIT 10
END WORKFLOW
