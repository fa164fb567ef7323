// Sign-in: POST /login with JSON; the server sets an HttpOnly session cookie.
"use strict";
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.hidden = true;
  const body = {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  };
  const response = await fetch("/login", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  if (response.ok) {
    const next = new URLSearchParams(location.search).get("next");
    // Only local paths: never redirect to another site after login.
    location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
  } else {
    error.textContent = "Wrong username or password.";
    error.hidden = false;
  }
});
