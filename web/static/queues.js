// netkan: the dashboard's actions. The admin token is typed once per tab (kept in
// sessionStorage) and copied into each action form's hidden `token` field on submit.
(function () {
  "use strict";
  var input = document.getElementById("admin-token");
  if (!input) { return; }
  var KEY = "netkan-admin-token";
  try { input.value = window.sessionStorage.getItem(KEY) || ""; } catch (e) { /* storage disabled */ }
  input.addEventListener("input", function () {
    try { window.sessionStorage.setItem(KEY, input.value); } catch (e) { /* storage disabled */ }
  });
  Array.prototype.forEach.call(document.querySelectorAll("form.needs-token"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!input.value) {
        event.preventDefault();
        input.focus();
        window.alert("Enter the admin token first.");
        return;
      }
      form.querySelector("input[name=token]").value = input.value;
    });
  });
})();
