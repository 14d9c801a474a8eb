-- Revenue per day, cancelled orders excluded.
SELECT created_at::date AS day, sum(amount) AS revenue
FROM orders
WHERE status <> 'cancelled'
  AND created_at >= '{{ start_date }}'
GROUP BY 1
ORDER BY 1
