' Tool "score order": a rule-based fraud score from 0 to 100 and its risk band.
DESCRIPTION "Scores the fraud risk of an order"
PARAM order_id AS STRING LIKE "ORD-7" DESCRIPTION "The order"
PARAM amount AS NUMBER LIKE "80" DESCRIPTION "The order's total"
PARAM country AS STRING LIKE "PT" DESCRIPTION "The shipping country (ISO code)"
PARAM new_customer AS BOOLEAN LIKE "false" DESCRIPTION "Whether this is the customer's first order"

total = VAL(STR(amount ?? 0))
score = 5
IF total > 1000 THEN
  score = score + 50
ELSEIF total > 300 THEN
  score = score + 25
END IF
IF new_customer = TRUE THEN
  score = score + 20
END IF
IF UPPER(country ?? "") = "XX" THEN
  score = score + 30  ' an unknown country
END IF
risk = "low"
IF score >= 60 THEN
  risk = "high"
ELSEIF score >= 30 THEN
  risk = "medium"
END IF

RETURN {"fraud_score": score, "risk": risk}
