// A customer's page using RudderStack's analytics-js, the browser bundle of its npm package
// (the "bundled" build: its plugins inside, none fetched), pointed at leadcrm: the data plane
// URL and the config URL are both leadcrm's base URL. The test writes #config.
(function () {
  const config = JSON.parse(document.getElementById("config").textContent);
  const analytics = new window.rudderanalytics.RudderAnalytics();
  const options = { configUrl: config.leadcrm, ...(config.options || {}) };
  if (config.sourceConfig) {
    options.getSourceConfig = () => config.sourceConfig; // given inline: nothing fetched first
  }
  analytics.load(config.writeKey, config.leadcrm, options);
  analytics.page("Pricing", { plan: "pro" });
  if (config.userId) {
    analytics.identify(config.userId, config.traits);
  } else {
    analytics.identify(config.traits);
  }
  analytics.track("Demo Requested", { seats: 12 }, () => {
    document.body.dataset.sent = "yes";
  });
})();
