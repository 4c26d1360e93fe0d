' Procedures that wait on bots, errors that cross calls, and timeouts.
' bot pricing "quote" -> {"price": 12}
' bot pricing "quote" -> {"price": 30}
' event payment -> null
' hear -> "blue"
ORCHESTRATE WORKFLOW "procs"
  total = quote("a") + quote("b")
  ON ERROR RESUME NEXT
  CALL explode()
  TALK "after explode: " & ERROR.message
  ON ERROR GOTO 0
  n = 0
  DO UNTIL n >= 3
    n = n + 1
  LOOP
  HEAR colour AS "red, blue"
  STEP 9: BOT "pricing" "quote" WITH {"sku": "c"} TIMEOUT "30s" RETRY 2 CACHE 60 INTO third
  paid = WAIT FOR EVENT "payment" TIMEOUT 10
    ON TIMEOUT: FAIL
  TALK "not reached"
END WORKFLOW

FUNCTION quote(sku)
  STEP 2: BOT "pricing" "quote" WITH {"sku": sku} INTO answer
  RETURN answer.price
END FUNCTION

SUB explode()
  x = [1, 2]
  x[5] = 1
  TALK "not reached inside"
END SUB
