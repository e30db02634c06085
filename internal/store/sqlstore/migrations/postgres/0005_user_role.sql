-- Better Auth's admin plugin column: "admin" makes a user an administrator
-- of Auther itself (admin API, clients). NULL means an ordinary user.
ALTER TABLE "user" ADD COLUMN role text;
