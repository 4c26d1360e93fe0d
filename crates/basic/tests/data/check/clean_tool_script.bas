' A General Bots tool script: inputs, procedures, loops, labels and jumps.
PARAM customer AS STRING LIKE "Ann" DESCRIPTION "Who is asking"
PARAM items AS OBJECT DESCRIPTION "The order lines"
DESCRIPTION "Validates an order and returns its total"

ON ERROR GOTO failed

total = 0
FOR EACH item IN items
  IF item.qty <= 0 THEN
    CONTINUE FOR
  END IF
  total = total + line_total(item.price, item.qty)
NEXT item

FOR i = 1 TO LEN(items) STEP 2
  IF i > 10 THEN EXIT FOR
NEXT

count = 0
DO
  count = count + 1
  IF count > 3 THEN EXIT DO
LOOP UNTIL count >= 5

WHILE count > 0
  count = count - 1
  IF count = 1 THEN EXIT WHILE
WEND

WITH summary
  name = UPPER(TRIM(customer))
  total = ROUND(total, 2)
END WITH

CALL log_line("total for " & customer & ": ${total}")
HEAR answer AS "yes,no"
SELECT CASE answer
  CASE "yes"
    TALK "Thanks, " & LEFT(customer, 1)
  CASE ELSE
    TALK "Cancelled at " & NOW()
END SELECT
RETURN {"customer": customer, "total": total, "when": TODAY(), "id": UUID(), "action": action}

failed:
TALK "Could not validate: " & ERROR.message
RETURN NULL

FUNCTION line_total(price, qty)
  RETURN price * qty
END FUNCTION

SUB log_line(text)
  PRINT text
END SUB
