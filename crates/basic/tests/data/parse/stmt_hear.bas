TALK "What is your name?"
HEAR name
TALK "How old are you?"
HEAR age AS INTEGER
HEAR email AS EMAIL
HEAR answer AS "yes,no,maybe"
HEAR profile.city
reply = HEAR
n = HEAR AS NUMBER
TALK name & " " & age & " " & email & " " & answer & " " & reply & " " & n
