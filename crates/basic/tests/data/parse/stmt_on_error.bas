ON ERROR GOTO failed
data = GET "https://api.example.com/orders"
ON ERROR RESUME NEXT
x = PARSE_JSON("not json")
ON ERROR GOTO 0
TALK "all good"
RETURN data

failed:
TALK "Something went wrong: " & ERROR.message
RETURN NULL
