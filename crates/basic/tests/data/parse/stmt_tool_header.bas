PARAM name AS STRING LIKE "Ann Smith" DESCRIPTION "The customer's full name"
PARAM email AS EMAIL DESCRIPTION "Where the confirmation goes"
PARAM amount AS NUMBER LIKE 120.50
PARAM notes
DESCRIPTION "Registers a refund request and returns its id"
id = UUID()
SAVE "refunds.xlsx", id, name, email, amount, notes
RETURN {"id": id, "status": "registered"}
