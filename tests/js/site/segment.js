// A customer's page using Segment's analytics-next, the browser bundle of its npm package
// (window.AnalyticsNext), pointed at leadcrm: `cdnURL` is where it fetches its settings, and
// those settings name leadcrm's /v1 as its API host. The test writes #config.
(async function () {
  const config = JSON.parse(document.getElementById("config").textContent);
  const { AnalyticsBrowser } = window.AnalyticsNext;
  const settings = { writeKey: config.writeKey, cdnURL: config.leadcrm };
  if (config.cdnSettings) {
    settings.cdnSettings = config.cdnSettings; // settings given inline: nothing fetched first
  }
  const analytics = AnalyticsBrowser.load(settings, config.options || {});
  await analytics.page("Pricing", { plan: "pro" });
  if (config.userId) {
    await analytics.identify(config.userId, config.traits);
  } else {
    await analytics.identify(config.traits);
  }
  await analytics.track("Demo Requested", { seats: 12 });
  document.body.dataset.sent = "yes";
})().catch((error) => {
  document.body.dataset.sent = "failed";
  console.error(`analytics-next: ${error}`);
});
