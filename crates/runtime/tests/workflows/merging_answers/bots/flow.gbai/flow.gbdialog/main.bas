' Answers merge into the variables (later writes win); INTO keeps an answer
' apart; WITH sends an explicit input; a non-object answer lands in `result`.
ORCHESTRATE WORKFLOW "merging"
  STEP 1: BOT "lookup" "find customer"
  STEP 2: BOT "lookup" "find customer" INTO again
  STEP 3: BOT "lookup" "score" WITH {"amount": order_amount * 2}
  STEP 4: BOT "lookup" "greeting"
  TALK "hello " & name & ", score " & score
END WORKFLOW
