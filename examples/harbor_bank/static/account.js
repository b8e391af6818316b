// The account page's office hours: book a place (POST /api/office-hours), see
// when it is, and join from shortly before the start (the bank checks the time
// again when the meeting page asks for the join URL).
const $ = (id) => document.getElementById(id);
let booking = null;

const when = (iso) => new Date(iso).toLocaleString(undefined, {
  weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
});
const time = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

function show() {
  if (!booking) return;
  const slot = booking.start
    ? `${when(booking.start)}${booking.end ? `–${time(booking.end)}` : ""}`
    : "now (open until the advisor closes it)";
  const open = !booking.opens || new Date(booking.opens) <= new Date();
  $("office-text").textContent = `You are booked for ${booking.subject}, ${slot}.` +
    (open ? "" : ` You can join from ${time(booking.opens)}.`);
  $("office-hours").hidden = true;
  $("join-office-hours").hidden = !open;
}

async function call(method) {
  const response = await fetch("/api/office-hours", { method });
  const data = await response.json();
  if (response.status === 404) throw new Error("There are no office hours scheduled at the moment. Please try again later.");
  if (!response.ok) throw new Error("Booking is not possible right now. Please try again later.");
  return data.booking;
}

$("office-hours").addEventListener("click", async () => {
  $("office-hours").disabled = true;
  try {
    booking = await call("POST");
    show();
  } catch (err) {
    $("office-text").textContent = err.message;
  } finally {
    $("office-hours").disabled = false;
  }
});

call("GET").then((b) => { booking = b; show(); }).catch(() => {});
setInterval(show, 30_000);  // the join button appears when the doors open
