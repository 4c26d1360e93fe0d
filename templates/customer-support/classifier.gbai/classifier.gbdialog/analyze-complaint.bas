' Tool "analyze complaint": sorts a complaint into a category by its keywords.
DESCRIPTION "Classifies a customer complaint as damaged, shipping, refund or general"
PARAM complaint AS STRING LIKE "My parcel arrived broken" DESCRIPTION "The complaint, as the customer wrote it"

text = LOWER(complaint ?? "")
category = "general"
confidence = 0.5

IF CONTAINS(text, "broken") OR CONTAINS(text, "damaged") THEN
  category = "damaged"
  confidence = 0.9
ELSEIF CONTAINS(text, "late") OR CONTAINS(text, "delay") THEN
  category = "shipping"
  confidence = 0.8
ELSEIF CONTAINS(text, "refund") OR CONTAINS(text, "money back") THEN
  category = "refund"
  confidence = 0.85
END IF

RETURN {"category": category, "confidence": confidence}
