SET SCHEDULE "0 9 * * 1-5"
report = GET "https://api.example.com/daily"
TALK "Daily report: " & report
